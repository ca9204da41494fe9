"""Child processes: commands with deadlines, a supervised child, the reaper."""
