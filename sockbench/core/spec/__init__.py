"""A run, typed: the options as declared on their fields, checked, and what they decide.

- :mod:`.option`: how a field declares its option (flags, help, default, bounds);
- :mod:`.load`, :mod:`.request`, :mod:`.server`, :mod:`.generator`, :mod:`.output`:
  the records of a run's options, one per group;
- :mod:`.rules`: the checks between options; :mod:`.sizing`: what they leave open,
  decided with the machine;
- :mod:`.run`: :class:`RunSpec`, what the engine runs; :mod:`.compare`,
  :mod:`.serve`, :mod:`.report` and :mod:`.diff`: the other commands' own options;
  :mod:`.formats`: the names of report's and diff's formats; :mod:`.commands`: which
  records each command reads.

Nothing is imported here: the CLI reads the declarations at every start, and should not
pay for what checking a run needs.
"""
