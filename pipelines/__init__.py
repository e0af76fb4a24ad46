"""Prefect flows and deployments: the only code in the project that imports prefect."""
