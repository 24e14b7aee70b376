"""``make demo``: one mobile node bootstrapping end to end on real peers, in network namespaces.

``python -m bootstrap.demo [--keep] [--dir DIR]`` runs the acts (:mod:`.acts`) in a lab
(:mod:`.lab`) of real peers (:mod:`.peers`) and writes ``DIR/report.html`` (:mod:`.report`);
``python -m bootstrap.demo clean`` removes a lab left by ``--keep``.  Needs root.
"""
