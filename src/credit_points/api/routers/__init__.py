"""The API's routers, one per resource: decisions, points, model, health, admin."""
