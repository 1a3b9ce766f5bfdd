"""nbgrader configuration of the hitlab course: the one place its settings live.

Authors edit solutions/ (nbgrader's source directory); `hitlab course build` (make labs) generates the
learners' notebooks into labs/ (the release directory). Grading work (submissions, autograded copies,
feedback, the gradebook) lives in graders/work/, which git ignores.
"""

from pathlib import Path

c = get_config()  # noqa: F821 - provided by nbgrader when it loads this file

ROOT = Path(__file__).resolve().parents[1]

c.CourseDirectory.root = str(ROOT)
c.CourseDirectory.course_id = "hitlab"
c.CourseDirectory.source_directory = "solutions"
c.CourseDirectory.release_directory = "labs"
c.CourseDirectory.submitted_directory = "graders/work/submitted"
c.CourseDirectory.autograded_directory = "graders/work/autograded"
c.CourseDirectory.feedback_directory = "graders/work/feedback"
c.CourseDirectory.db_url = f"sqlite:///{ROOT / 'graders' / 'work' / 'gradebook.db'}"

# A cell that runs longer than this fails (the learner sees a timeout, the grader moves on).
c.ExecutePreprocessor.timeout = 120
c.Execute.timeout = 120
# Library warnings written to stderr must never zero a test cell: nbgrader counts any stderr as a failure.
c.IgnorePattern.enabled = True
c.IgnorePattern.pattern = r"(Warning|warnings\.warn)"
# Grade and test cells a learner deleted are put back from the gradebook at autograde.
c.OverwriteCells.add_missing_cells = True
# Released notebooks carry no outputs.
c.ClearOutput.enabled = True
