"""HTTP edge: public routes under /orders, the order-replies subscription, health."""
