"""Where Sentinel keeps state: PostgreSQL (decisions, alerts, the model registry,
migrations) and Redis (de-duplication claims, the alerts stream).
"""
