"""Ratings and reports: where every game is written (:mod:`.recorder`, :mod:`.store`), the
rating model (:mod:`.trueskill`), standings (:mod:`.standings`), leaderboard definitions and
their scheduler (:mod:`.leaderboard`, :mod:`.scheduler`, :mod:`.matchmaking`), and the report
(:mod:`.report`)."""
