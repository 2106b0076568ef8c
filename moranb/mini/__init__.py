"""MoraMini: a procedural world small enough that moranb trains its own agents on a CPU (issue 15).

`world` makes the clips and captions, `judge` is the classifier that knows the world's truth, `train_judge` and
`train` train the judge and the `mini` agents from scratch.
"""
