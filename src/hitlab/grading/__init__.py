"""Cohort grading for instructors: collect a cohort's submissions, grade them, report.

So far: :func:`collect`, which finds who submitted which lab in an nbgrader ``submitted/`` tree or in a
folder or zip of LMS downloads, listing every file it could not place instead of guessing.
"""

from hitlab.grading.collect import DEFAULT_LMS_PATTERN, Collection, Submission, collect

__all__ = ["DEFAULT_LMS_PATTERN", "Collection", "Submission", "collect"]
