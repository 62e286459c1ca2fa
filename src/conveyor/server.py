"""The composition root: builds store, engine, controllers and api from the configuration."""
