"""The Franka Panda: reset, end-effector control through inverse kinematics, proprioception."""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from envs.assets import asset_path

if TYPE_CHECKING:  # the simulator is needed to run the desk, not to read its geometry
    from envs.sim import Sim

ARM_JOINTS = (0, 1, 2, 3, 4, 5, 6)
FINGER_JOINTS = (9, 10)
EE_LINK = 11  # panda_grasptarget: between the fingertips
HAND_LINK = 8
NEUTRAL_JOINTS = np.array([0.0, 0.2, 0.0, -2.2, 0.0, 2.4, 0.785])
# Gripper pointing straight down; the fingers then open along the world y axis.
DOWN = (1.0, 0.0, 0.0, 0.0)
ARM_FORCES = np.array([87.0, 87.0, 87.0, 87.0, 12.0, 120.0, 120.0])
FINGER_FORCE = 40.0
MAX_FINGER_OPENING = 0.04  # per finger, metres
# The end effector is kept inside this box (metres, world frame).
EE_LOW = np.array([0.20, -0.45, 0.005])
EE_HIGH = np.array([0.85, 0.45, 0.45])
PROPRIO_SIZE = 14


class Panda:
    def __init__(self, sim: Sim, *, max_step: float):
        self.sim = sim
        self.max_step = max_step  # metres of end-effector motion per unit action per step
        p = sim.p
        self.body = p.loadURDF(asset_path("panda_light.urdf"), [0, 0, 0], useFixedBase=True)
        for j in (*ARM_JOINTS, *FINGER_JOINTS):
            p.changeDynamics(self.body, j, linearDamping=0.0, angularDamping=0.0)
        for j in FINGER_JOINTS:
            p.changeDynamics(self.body, j, lateralFriction=1.5, spinningFriction=0.01)
        info = [p.getJointInfo(self.body, j) for j in ARM_JOINTS]
        self._lower = [i[8] for i in info]
        self._upper = [i[9] for i in info]
        self._ranges = [u - lo for lo, u in zip(self._lower, self._upper)]

    def reset(self) -> None:
        p = self.sim.p
        for j, q in zip(ARM_JOINTS, NEUTRAL_JOINTS):
            p.resetJointState(self.body, j, q, 0.0)
        for j in FINGER_JOINTS:
            p.resetJointState(self.body, j, MAX_FINGER_OPENING, 0.0)
        self._command(NEUTRAL_JOINTS, MAX_FINGER_OPENING)

    def apply_action(self, action: np.ndarray) -> None:
        """action: (dx, dy, dz, grip) in [-1, 1]; grip is the target opening, -1 closed, 1 open."""
        target = np.clip(self.ee_position() + action[:3] * self.max_step, EE_LOW, EE_HIGH)
        joints = self.inverse_kinematics(target)
        opening = (float(action[3]) + 1.0) / 2.0 * MAX_FINGER_OPENING
        self._command(joints, opening)

    def inverse_kinematics(self, position: np.ndarray) -> np.ndarray:
        p = self.sim.p
        q = p.calculateInverseKinematics(
            self.body, EE_LINK, position.tolist(), DOWN,
            lowerLimits=self._lower, upperLimits=self._upper, jointRanges=self._ranges,
            restPoses=NEUTRAL_JOINTS.tolist(), maxNumIterations=20, residualThreshold=1e-4,
        )
        return np.asarray(q[:7])

    def _command(self, joints: np.ndarray, opening: float) -> None:
        p = self.sim.p
        p.setJointMotorControlArray(
            self.body, ARM_JOINTS, p.POSITION_CONTROL, targetPositions=joints.tolist(), forces=ARM_FORCES.tolist()
        )
        p.setJointMotorControlArray(
            self.body, FINGER_JOINTS, p.POSITION_CONTROL, targetPositions=[opening, opening], forces=[FINGER_FORCE] * 2
        )

    def ee_position(self) -> np.ndarray:
        # computeForwardKinematics: the cached link state is stale after a reset or a state restore.
        return np.asarray(self.sim.p.getLinkState(self.body, EE_LINK, computeForwardKinematics=1)[4])

    def ee_velocity(self) -> np.ndarray:
        return np.asarray(self.sim.p.getLinkState(self.body, EE_LINK, computeLinkVelocity=1, computeForwardKinematics=1)[6])

    def finger_width(self) -> float:
        states = self.sim.p.getJointStates(self.body, FINGER_JOINTS)
        return float(states[0][0] + states[1][0])

    def joint_positions(self) -> np.ndarray:
        return np.array([s[0] for s in self.sim.p.getJointStates(self.body, ARM_JOINTS)])

    def joint_velocities(self) -> np.ndarray:
        return np.array([s[1] for s in self.sim.p.getJointStates(self.body, (*ARM_JOINTS, *FINGER_JOINTS))])

    def proprioception(self) -> np.ndarray:
        """End-effector position (3) and velocity (3), finger width (1), arm joints (7)."""
        state = self.sim.p.getLinkState(self.body, EE_LINK, computeLinkVelocity=1, computeForwardKinematics=1)
        return np.concatenate(
            [state[4], state[6], [self.finger_width()], self.joint_positions()]
        ).astype(np.float32)
