"""The course pipeline on nbgrader: build labs/ from solutions/, lint the sources, verify the grading."""

from hitlab.course.build import build
from hitlab.course.lint import lint
from hitlab.course.notebooks import CourseError
from hitlab.course.verify import LabVerification, verify

__all__ = ["CourseError", "LabVerification", "build", "lint", "verify"]
