"""Federated fine-tuning across sites on Flower: each site trains on its own correction queue
and shares only weight tensors and sample counts (see docs/ARCHITECTURE.md, "Federated")."""
