"""RabbitMQ adapters: the publisher of domain events on ``doc.events`` and a subscription to it."""
