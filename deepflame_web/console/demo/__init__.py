"""Demo data: a simulated quick-service restaurant chain written in the import format."""

from deepflame_web.console.demo.generator import DemoArgumentError, DemoSummary, demo_chain_generate

__all__ = ["DemoArgumentError", "DemoSummary", "demo_chain_generate"]
