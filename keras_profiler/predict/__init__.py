"""What-if scaling: the step time a model would take on more devices, nodes
and links, from what one run measured (docs/prediction.md)."""
