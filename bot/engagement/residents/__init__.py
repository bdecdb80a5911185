"""A resident's rights and identity: access to and erasure of their data, merging two records of one person."""
