"""The webhooks service: partners' endpoints, encrypted signing secrets, deliveries and their attempts."""
