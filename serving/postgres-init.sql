-- Second database on the same server: the MLflow tracking backend (the audit store uses credit_points_audit).
CREATE DATABASE mlflow;
