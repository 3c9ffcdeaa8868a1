"""Tools for people: play and score, replay, watch, compare, export, doctor, and the safe JupyterLab they use."""
