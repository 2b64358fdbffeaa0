"""Playing games: one game in a worker (:mod:`.play`), a series between two agents
(:mod:`.match`), and the record every game produces (:mod:`.record`)."""
