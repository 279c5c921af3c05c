"""Style transfer: an opened style model and its runner (model), the plan of one painting (plan)."""
