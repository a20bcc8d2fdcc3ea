"""The recurrent FF network (network), goodness and its losses (objectives), and sampling text
from either readout (sampling)."""
