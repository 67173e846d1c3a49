"""MLflow adapter: tracking store set-up, run logging, the decision bundle as a registered model, aliases and the promotion gate."""
