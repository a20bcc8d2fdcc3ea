"""Text in: named corpora, alphabets and vocabulary, the train/validation split, parallel read
streams, and the n-gram yardsticks."""
