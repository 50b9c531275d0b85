"""A thin wrapper around one PyBullet physics client.

Every env owns exactly one client; nothing here touches the global default
client, so several envs can live in one process and `close()` frees all of it.
"""

from __future__ import annotations

import logging

from envs.quiet import silenced, stdout_to_stderr

with silenced():  # "pybullet build time: ..."
    import pybullet as pb
    from pybullet_utils import bullet_client

log = logging.getLogger(__name__)


class Sim:
    """One PyBullet client with the time step and substeps of the desk."""

    def __init__(self, *, gui: bool = False, time_step: float = 1.0 / 120.0, substeps: int = 5):
        self.gui = gui
        self.time_step = time_step
        self.substeps = substeps
        if gui:
            from envs.display import check_display

            check_display()  # PyBullet's GUI ends the whole process when it cannot open a window
        # "argv[0]=" on every connect; the GUI's messages (display trouble) are kept, on stderr
        with stdout_to_stderr() if gui else silenced():
            self._client: bullet_client.BulletClient | None = bullet_client.BulletClient(
                connection_mode=pb.GUI if gui else pb.DIRECT
            )
        p = self._client
        p.setTimeStep(time_step)
        p.setGravity(0.0, 0.0, -9.81)
        # A fixed solver iteration count keeps the cost of a step predictable.
        p.setPhysicsEngineParameter(numSolverIterations=50, deterministicOverlappingPairs=1)
        if gui:
            p.configureDebugVisualizer(pb.COV_ENABLE_GUI, 0)
            p.resetDebugVisualizerCamera(1.1, 50.0, -35.0, [0.5, 0.0, 0.0])

    @property
    def p(self) -> bullet_client.BulletClient:
        if self._client is None:
            raise RuntimeError("the simulation is closed")
        return self._client

    @property
    def control_dt(self) -> float:
        """Seconds of simulated time per control step."""
        return self.time_step * self.substeps

    def step(self) -> None:
        p = self.p
        for _ in range(self.substeps):
            p.stepSimulation()

    def save_state(self) -> int:
        return self.p.saveState()

    def restore_state(self, state_id: int) -> None:
        self.p.restoreState(stateId=state_id)

    def remove_state(self, state_id: int) -> None:
        self.p.removeState(state_id)

    @property
    def closed(self) -> bool:
        return self._client is None

    def close(self) -> None:
        """Disconnect; safe to call more than once."""
        if self._client is not None:
            try:
                self._client.disconnect()
            except pb.error:  # already disconnected by PyBullet itself
                log.debug("pybullet client was already disconnected")
            self._client = None
