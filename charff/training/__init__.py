"""Training: the phase schedule, negatives, the learning rule (learner), the trainer loop,
validation, checkpoints, and one run end to end (run)."""
