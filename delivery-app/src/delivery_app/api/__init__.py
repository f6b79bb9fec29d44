"""HTTP edge: public routes, subscriptions, error mapping."""
