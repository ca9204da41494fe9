"""Bring files in line with one snapshot: render, stage, check, install, reload."""
