"""The networks: the YAMNet port, clip pooling, the teacher head and the student."""
