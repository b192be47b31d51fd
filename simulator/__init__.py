"""Simulated X, Graph and YouTube APIs for the demo, tests, benchmarks and faults."""
from simulator.transport import Fault, SimTransport
from simulator.world import SIM_NOW, World

__all__ = ["Fault", "SimTransport", "SIM_NOW", "World"]
