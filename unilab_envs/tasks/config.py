"""Defaults of the in-hand tasks (HORA's conventions). Each field is one config key."""
from __future__ import annotations

from dataclasses import dataclass, field

from ..scene import PhysicsOptions

#: physics steps per action: 20 Hz control at the default timestep of 1/120 s (HORA's timing)
CONTROL_SUBSTEPS = 6


@dataclass(frozen=True)
class SimOptions:
    """Options of one physics backend; null keeps the backend's own choice. Setting one for a backend
    that has no such option is an error."""

    nconmax: int | None = None   # sim=mjwarp: contacts preallocated per world (default: 2 x colliding hand geoms)
    njmax: int | None = None     # sim=mjwarp: constraint rows per world (default: 6 per contact + 2 per joint)


@dataclass(frozen=True)
class RewardScales:
    """Weights of the reward terms; the sign lives in the weight. See ``tasks/rewards.py``."""

    rotate: float = 1.25          # clip(omega . axis) in rad/s
    object_linvel: float = -0.3   # |v_object|_1, m/s
    pose_diff: float = -0.3       # |q - q_start|^2, rad^2
    torque: float = -0.1          # |tau|^2, (N m)^2
    work: float = -2.0            # (tau . qdot)^2, W^2
    fall: float = 0.0             # once, at the step the object drops or leaves the hand (not times dt)
    object_pos: float = 0.0       # max(0, 1 - |p - p_start| / object_pos_radius), in [0, 1]


@dataclass(frozen=True)
class DomainRandConfig:
    """Per-env randomisation drawn at every reset (ranges from HORA). ``enabled`` switches all."""

    enabled: bool = True
    object_mass: bool = True
    mass_range: tuple[float, float] = (0.01, 0.25)          # kg
    object_com: bool = True
    com_range: tuple[float, float] = (-0.01, 0.01)          # m, per axis
    friction: bool = True
    friction_range: tuple[float, float] = (0.3, 3.0)        # object and hand geoms
    friction_relative: bool = False                         # friction_range multiplies each geom's own value
    object_scale: bool = True
    scale_list: tuple[float, ...] = (1.0,)                  # one grasp cache per listed scale
    scale_jitter: float = 0.025                             # uniform +- around the listed scale
    pd_gains: bool = True
    kp_scale_range: tuple[float, float] = (2.9 / 3.0, 3.1 / 3.0)  # HORA's 2.9-3.1 around 3
    kv_scale_range: tuple[float, float] = (0.9, 1.1)              # HORA's 0.09-0.11 around 0.1
    joint_noise: bool = True
    joint_noise_scale: float = 0.02                         # rad, uniform, on observed joints
    external_force: bool = True
    force_scale: float = 2.0                                # N per kg of object mass (std)
    force_prob: float = 0.25                                # chance per step of a new push
    force_decay: float = 0.9                                # per force_decay_interval
    force_decay_interval: float = 0.08                      # s
    gravity_tilt: bool = False
    gravity_tilt_max: float = 0.1                           # rad: gravity within this angle of straight down
    tactile_latency: float = 0.0                            # chance per step and pad of a stale tactile reading


@dataclass(frozen=True)
class CurriculumStart:
    """Start value of each randomisation term on the curriculum (null: the term stays at its ``domain_rand``
    value throughout). Each widens linearly in the stage to its ``domain_rand`` value."""

    mass_max: float | None = 0.05           # kg: upper end of domain_rand.mass_range
    friction_min: float | None = 1.0        # lower end of domain_rand.friction_range
    force_scale: float | None = 0.0         # domain_rand.force_scale (random pushes)
    joint_noise_scale: float | None = 0.0   # domain_rand.joint_noise_scale (observation noise)
    gravity_tilt_max: float | None = 0.0    # domain_rand.gravity_tilt_max (Sharpa tilts gravity)


@dataclass(frozen=True)
class CurriculumConfig:
    """A schedule over training env steps on which the randomisation widens (``tasks/curriculum.py``).
    Off by default; a trainer drives it through ``env.set_training_progress(env_steps)``."""

    enabled: bool = False
    milestones: tuple[float, ...] = (0.0, 2.0e6)  # env steps; the stage is i/k at the i-th of k+1 milestones
    interpolation: str = "linear"                 # linear | step (held until the next milestone)
    start: CurriculumStart = field(default_factory=CurriculumStart)


@dataclass(frozen=True)
class InhandRotationConfig:
    """``AllegroInhandRotation-v0`` and its siblings."""

    hand: str = "allegro"
    object_type: str = "ball"                 # ball | cube | cylinder | small_cylinder (objects.OBJECTS)
    sim: str = "mujoco"                       # physics backend
    sim_device: str | None = None             # physics device (--sim-device): None = the backend's (MuJoCo: cpu)
    num_threads: int = 0                      # backend threads, 0 = all cores
    sim_options: SimOptions = field(default_factory=SimOptions)
    arrays: str = "auto"                      # auto | numpy | torch: where obs, rewards, infos live (auto: the
                                              #   backend's own; MuJoCo Warp: torch tensors on its device)
    compiled_step: bool = True                # numpy arrays: a step's task math in numba calls (identical
                                              #   results, faster at small num_envs); False: the array-API code
    physics: PhysicsOptions = field(default_factory=PhysicsOptions)
    control_substeps: int = CONTROL_SUBSTEPS  # physics steps per action
    episode_length: int = 400                 # control steps (20 s)
    stagger_episodes: bool = True             # first episodes after reset() end at random steps
    action_scale: float = 1.0 / 24.0          # target += action * action_scale, rad
    obs_mode: str = "state"                   # state | privileged | hora
    obs_frames: int = 3                       # frames of (joints, targets) in "state"
    proprio_history: int = 30                 # frames in "proprio_history" (hora mode)
    history_touch: bool = False               # hora mode: each proprio_history frame also holds every
                                              #   fingertip's object contact (0/1); "state" is unchanged
    privileged_delay: float = 0.0             # s: privileged_state's object facts (scale, mass, friction, com)
                                              #   read 0, mid-range, for this long after each episode start
    rotation_axis: tuple[float, float, float] = (0.0, 0.0, 1.0)  # world frame
    rotation_sign: float = -1.0               # HORA spins about -z
    angvel_clip: tuple[float, float] = (-0.5, 0.5)  # rad/s, on omega . axis in the reward
    termination_height: float = 0.08         # m: object centre below this ends the episode
    max_palm_distance: float = 0.2            # m: object farther from the palm site ends it
    height_band: float | None = None          # m: object centre this far above/below its start height ends it
    object_pos_radius: float = 0.02           # m: offset from the start position at which object_pos reaches 0
    tactile_max: float = 4.0                  # N: tactile readings are clipped to [0, tactile_max]
    tactile_smoothing: float = 0.5            # EMA weight of the previous reading (tactile hands only)
    rewards: RewardScales = field(default_factory=RewardScales)
    domain_rand: DomainRandConfig = field(default_factory=DomainRandConfig)
    curriculum: CurriculumConfig = field(default_factory=CurriculumConfig)
    grasp_cache_path: str | None = None       # explicit cache file or prefix
    grasp_cache_dir: str | None = None        # default: $UNILAB_CACHE_DIR or ~/.cache/unilab_envs/grasps
    grasp_hub_repo: str | None = None         # default: $UNILAB_GRASP_HUB_REPO or the project's dataset
    grasp_allow_generate: bool = False        # generate a missing cache in-process
    grasp_collection_target: int = 5000       # grasps per scale when generating
    render_width: int = 640
    render_height: int = 480


@dataclass(frozen=True)
class GraspConfig:
    """``AllegroInhandGrasp-v0``: perturb the home pose, hold, keep what stays (HORA's criteria)."""

    hand: str = "allegro"
    object_type: str = "ball"
    sim: str = "mujoco"
    sim_device: str | None = None             # physics device (--sim-device): None = the backend's (MuJoCo: cpu)
    num_threads: int = 0
    sim_options: SimOptions = field(default_factory=SimOptions)
    physics: PhysicsOptions = field(default_factory=PhysicsOptions)
    control_substeps: int = CONTROL_SUBSTEPS
    settle_steps: int = 10                    # control steps to settle before the snapshot
    hold_steps: int = 40                      # control steps the snapshot must then survive (2 s)
    action_scale: float = 1.0 / 24.0          # target += action * action_scale (zeros: hold the pose)
    scale: float = 1.0                        # object scale of this run
    pose_noise: float | None = None           # uniform +- around the home pose; None: the hand's
    object_noise: float = 0.005               # m, uniform +- on the object's start position
    tip_distance_max: float = 0.1             # m: every fingertip within this of the object
    min_tip_contacts: int = 2                 # fingertips touching the object at the end
    min_object_height: float = 0.12           # m: object centre above this for the whole hold
    min_tactile_force: float = 0.0            # N: > 0: at the snapshot min_tip_contacts pads press this hard
                                              #   (tactile hands), else the attempt ends there
    max_height_change: float | None = None    # m: object height change over the hold at most this
    max_orientation_change: float | None = None  # rad: object rotation over the hold at most this
    render_width: int = 640
    render_height: int = 480
