-- Runs once, when the PostgreSQL volume is created: a second database for MLflow's backend
-- store next to the prediction log (database "housing", created from POSTGRES_DB).
CREATE DATABASE mlflow OWNER housing;
