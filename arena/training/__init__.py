"""Training by self-play: the plan and the run (:mod:`.plan`, :mod:`.run`), rollout workers
(:mod:`.rollout`), the learner (:mod:`.learner`, :mod:`.functional`, :mod:`.params`), enemy pools
(:mod:`.enemies`, :mod:`.pool`), snapshots (:mod:`.snapshot`, :mod:`.trained`) and what a run
writes beside them (:mod:`.experiment`, :mod:`.evaluation`, :mod:`.curves`, :mod:`.tensorboard`)."""
