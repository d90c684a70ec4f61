"""The actors this world can spawn: CARLA 0.9.16 blueprint ids with their sizes and dynamics.

Sizes are the bounding-box dimensions CARLA reports for each model (rounded to cm); dynamics are
the limits of the kinematic model (`kinematics.py`). Attribute names and recommended values are
CARLA's, so code that reads `bp.get_attribute('color').recommended_values` works unchanged.
"""
from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class VehicleSpec:
    """Geometry and kinematic limits of one vehicle model."""

    blueprint_id: str
    length: float  # m, bounding box x size
    width: float  # m, bounding box y size
    height: float  # m, bounding box z size
    wheelbase: float  # m, front to rear axle
    max_steer_deg: float = 70.0  # front wheel angle at steer = ±1
    max_accel: float = 3.5  # m/s², full throttle from standstill
    max_decel: float = 8.0  # m/s², full brake
    max_speed: float = 50.0  # m/s, top speed
    mass: float = 1800.0  # kg, for collision impulses
    base_type: str = "car"  # car | truck | van | motorcycle | bicycle
    special_type: str = ""  # emergency | taxi | electric | ""
    number_of_wheels: int = 4
    generation: int = 2
    colors: tuple[str, ...] = ("255,255,255", "0,0,0", "120,120,120", "200,30,30", "30,60,160")


def _car(bp_id: str, length: float, width: float, height: float, **kwargs: object) -> VehicleSpec:
    return VehicleSpec(bp_id, length, width, height, wheelbase=round(0.6 * length, 2), **kwargs)  # type: ignore[arg-type]


VEHICLES: tuple[VehicleSpec, ...] = (
    _car("vehicle.audi.a2", 3.71, 1.79, 1.56, generation=1),
    _car("vehicle.audi.etron", 4.86, 2.03, 1.65, special_type="electric"),
    _car("vehicle.audi.tt", 4.18, 1.99, 1.38, generation=1),
    _car("vehicle.bmw.grandtourer", 4.61, 2.24, 1.67, generation=1),
    _car("vehicle.chevrolet.impala", 5.36, 2.03, 1.41, generation=1),
    _car("vehicle.citroen.c3", 3.99, 1.85, 1.62, generation=1),
    _car("vehicle.dodge.charger_2020", 5.01, 2.10, 1.54),
    _car("vehicle.dodge.charger_police", 4.97, 2.04, 1.56, generation=1, special_type="emergency"),
    _car("vehicle.dodge.charger_police_2020", 5.24, 2.08, 1.64, special_type="emergency"),
    _car("vehicle.ford.crown", 5.36, 1.90, 1.59, special_type="taxi"),
    _car("vehicle.ford.mustang", 4.72, 1.90, 1.30, generation=1),
    _car("vehicle.jeep.wrangler_rubicon", 3.87, 1.91, 1.88, generation=1),
    _car("vehicle.lincoln.mkz_2017", 4.90, 2.13, 1.51, generation=1),
    _car("vehicle.lincoln.mkz_2020", 4.89, 2.16, 1.49),
    _car("vehicle.mercedes.coupe", 5.03, 2.15, 1.64, generation=1),
    _car("vehicle.mercedes.coupe_2020", 4.67, 2.01, 1.44),
    _car("vehicle.micro.microlino", 2.21, 1.48, 1.38, special_type="electric", max_speed=25.0),
    _car("vehicle.mini.cooper_s", 3.80, 1.97, 1.47, generation=1),
    _car("vehicle.mini.cooper_s_2021", 4.55, 2.10, 1.77),
    _car("vehicle.nissan.micra", 3.64, 1.85, 1.53, generation=1),
    _car("vehicle.nissan.patrol", 4.60, 1.93, 1.85, generation=1),
    _car("vehicle.nissan.patrol_2021", 5.57, 2.15, 2.05),
    _car("vehicle.seat.leon", 4.19, 1.82, 1.47, generation=1),
    _car("vehicle.tesla.cybertruck", 6.27, 2.39, 2.10, base_type="truck", special_type="electric", mass=3000.0),
    _car("vehicle.tesla.model3", 4.79, 2.16, 1.49, generation=1, special_type="electric"),
    _car("vehicle.toyota.prius", 4.51, 2.01, 1.52, generation=1, special_type="electric"),
    _car("vehicle.carlamotors.carlacola", 5.20, 2.61, 2.47, base_type="truck", mass=6000.0, max_accel=2.0),
    _car("vehicle.carlamotors.european_hgv", 7.99, 2.59, 3.51, base_type="truck", mass=12000.0, max_accel=1.5),
    _car("vehicle.carlamotors.firetruck", 8.57, 2.67, 3.86, base_type="truck", special_type="emergency",
         mass=14000.0, max_accel=1.8),
    _car("vehicle.ford.ambulance", 6.36, 2.39, 2.83, base_type="van", special_type="emergency", mass=4000.0),
    _car("vehicle.mercedes.sprinter", 5.92, 1.99, 2.57, base_type="van", mass=3000.0),
    _car("vehicle.volkswagen.t2", 4.45, 2.07, 2.04, base_type="van", generation=1),
    _car("vehicle.volkswagen.t2_2021", 4.44, 1.77, 1.99, base_type="van"),
    _car("vehicle.mitsubishi.fusorosa", 10.27, 3.93, 4.24, base_type="bus", mass=15000.0, max_accel=1.2),
    _car("vehicle.harley-davidson.low_rider", 2.37, 0.77, 1.55, base_type="motorcycle", number_of_wheels=2,
         generation=1, mass=300.0),
    _car("vehicle.kawasaki.ninja", 2.04, 0.80, 1.52, base_type="motorcycle", number_of_wheels=2, generation=1,
         mass=250.0),
    _car("vehicle.vespa.zx125", 1.82, 0.85, 1.59, base_type="motorcycle", number_of_wheels=2, generation=1,
         mass=150.0),
    _car("vehicle.yamaha.yzf", 2.19, 0.76, 1.60, base_type="motorcycle", number_of_wheels=2, generation=1,
         mass=250.0),
    _car("vehicle.bh.crossbike", 1.48, 0.86, 1.07, base_type="bicycle", number_of_wheels=2, generation=1,
         mass=90.0, max_speed=10.0, max_accel=1.5),
    _car("vehicle.diamondback.century", 1.66, 0.60, 1.08, base_type="bicycle", number_of_wheels=2, generation=1,
         mass=90.0, max_speed=10.0, max_accel=1.5),
    _car("vehicle.gazelle.omafiets", 1.84, 0.66, 1.10, base_type="bicycle", number_of_wheels=2, generation=1,
         mass=90.0, max_speed=10.0, max_accel=1.5),
)


@dataclass(frozen=True)
class WalkerSpec:
    """Size and gait speeds of one pedestrian model."""

    blueprint_id: str
    length: float = 0.37  # m
    width: float = 0.37  # m
    height: float = 1.86  # m
    walk_speed: float = 1.4  # m/s, first recommended 'speed'
    run_speed: float = 2.8  # m/s, second recommended 'speed'
    mass: float = 75.0  # kg
    gender: str = "male"
    age: str = "adult"


WALKERS: tuple[WalkerSpec, ...] = tuple(
    WalkerSpec(
        f"walker.pedestrian.{index:04d}",
        height=1.2 if index in (9, 10, 11, 12, 13, 14, 48, 49) else 1.86,
        walk_speed=1.26 if index in (9, 10, 11, 12, 13, 14, 48, 49) else 1.4,
        gender="female" if index % 2 else "male",
        age="child" if index in (9, 10, 11, 12, 13, 14, 48, 49) else "adult",
    )
    for index in range(1, 50)
)


@dataclass(frozen=True)
class PropSpec:
    """Size of one static prop."""

    blueprint_id: str
    length: float  # m
    width: float  # m
    height: float  # m
    mass: float = 30.0  # kg; props are treated as fixed in collisions


PROPS: tuple[PropSpec, ...] = (
    PropSpec("static.prop.streetbarrier", 1.25, 0.40, 1.10),
    PropSpec("static.prop.constructioncone", 0.40, 0.40, 0.70),
    PropSpec("static.prop.trafficcone01", 0.40, 0.40, 0.75),
    PropSpec("static.prop.trafficcone02", 0.40, 0.40, 0.85),
    PropSpec("static.prop.trafficwarning", 2.20, 0.90, 2.30),
    PropSpec("static.prop.warningconstruction", 2.20, 0.90, 2.30),
    PropSpec("static.prop.warningaccident", 2.20, 0.90, 2.30),
    PropSpec("static.prop.dirtdebris01", 2.00, 2.00, 0.10),
    PropSpec("static.prop.dirtdebris02", 2.00, 2.00, 0.10),
    PropSpec("static.prop.container", 6.00, 2.40, 2.60, mass=3000.0),
    PropSpec("static.prop.garbage01", 0.40, 0.40, 0.30),
    PropSpec("static.prop.box01", 0.60, 0.60, 0.60),
    PropSpec("static.prop.creasedbox01", 0.60, 0.60, 0.60),
    PropSpec("static.prop.mesh", 1.0, 1.0, 1.0),
    PropSpec("static.prop.vendingmachine", 1.0, 0.9, 1.9, mass=300.0),
    PropSpec("static.prop.busstop", 4.2, 1.6, 2.6, mass=500.0),
    PropSpec("static.prop.advertisement", 1.3, 0.4, 2.4),
    PropSpec("static.prop.bench01", 1.8, 0.6, 0.9),
    PropSpec("static.prop.trashcan01", 0.6, 0.6, 1.0),
    PropSpec("static.prop.mailbox", 0.5, 0.5, 1.2),
    PropSpec("static.prop.barrel", 0.6, 0.6, 0.9),
    PropSpec("static.prop.haybale", 1.2, 1.2, 1.0),
    PropSpec("static.prop.plantpot01", 0.8, 0.8, 0.9),
    PropSpec("static.prop.travelcase", 0.5, 0.3, 0.7),
)

# Sensor blueprints: attribute -> (type, default value, recommended values, modifiable).
# Names and defaults follow CARLA 0.9.16's sensor reference. `sensor.speedometer` and
# `sensor.opendrive_map` are the leaderboard's pseudo-sensors, offered here as blueprints too.
_COMMON_SENSOR = {"sensor_tick": ("float", "0.0", (), True), "role_name": ("string", "front", (), True)}
_CAMERA = {
    **_COMMON_SENSOR,
    "image_size_x": ("int", "800", (), True),
    "image_size_y": ("int", "600", (), True),
    "fov": ("float", "90.0", (), True),
    "lens_circle_falloff": ("float", "5.0", (), True),
    "lens_circle_multiplier": ("float", "0.0", (), True),
    "lens_k": ("float", "-1.0", (), True),
    "lens_kcube": ("float", "0.0", (), True),
    "lens_x_size": ("float", "0.08", (), True),
    "lens_y_size": ("float", "0.08", (), True),
}
_RGB_EXTRA = {
    "bloom_intensity": ("float", "0.675", (), True),
    "fstop": ("float", "1.4", (), True),
    "iso": ("float", "100.0", (), True),
    "gamma": ("float", "2.2", (), True),
    "lens_flare_intensity": ("float", "0.1", (), True),
    "shutter_speed": ("float", "200.0", (), True),
    "motion_blur_intensity": ("float", "0.45", (), True),
    "motion_blur_max_distortion": ("float", "0.35", (), True),
    "motion_blur_min_object_screen_size": ("float", "0.1", (), True),
    "enable_postprocess_effects": ("bool", "true", (), True),
    "exposure_mode": ("string", "histogram", ("manual", "histogram"), True),
    "enable_restorer": ("bool", "true", (), True),  # not CARLA's: the scene's diffusion restorer refines the image
}
_NOISE_STDDEV = ("float", "0.0", (), True)
SENSORS: dict[str, dict[str, tuple[str, str, tuple[str, ...], bool]]] = {
    "sensor.camera.rgb": {**_CAMERA, **_RGB_EXTRA},
    "sensor.camera.depth": dict(_CAMERA),
    "sensor.camera.semantic_segmentation": dict(_CAMERA),
    "sensor.other.collision": dict(_COMMON_SENSOR),
    "sensor.other.lane_invasion": dict(_COMMON_SENSOR),
    "sensor.other.gnss": {
        **_COMMON_SENSOR,
        "noise_alt_bias": ("float", "0.0", (), True),
        "noise_alt_stddev": _NOISE_STDDEV,
        "noise_lat_bias": ("float", "0.0", (), True),
        "noise_lat_stddev": _NOISE_STDDEV,
        "noise_lon_bias": ("float", "0.0", (), True),
        "noise_lon_stddev": _NOISE_STDDEV,
        "noise_seed": ("int", "0", (), True),
    },
    "sensor.other.imu": {
        **_COMMON_SENSOR,
        "noise_accel_stddev_x": _NOISE_STDDEV,
        "noise_accel_stddev_y": _NOISE_STDDEV,
        "noise_accel_stddev_z": _NOISE_STDDEV,
        "noise_gyro_bias_x": ("float", "0.0", (), True),
        "noise_gyro_bias_y": ("float", "0.0", (), True),
        "noise_gyro_bias_z": ("float", "0.0", (), True),
        "noise_gyro_stddev_x": _NOISE_STDDEV,
        "noise_gyro_stddev_y": _NOISE_STDDEV,
        "noise_gyro_stddev_z": _NOISE_STDDEV,
        "noise_seed": ("int", "0", (), True),
    },
    "sensor.other.obstacle": {
        **_COMMON_SENSOR,
        "distance": ("float", "5.0", (), True),
        "hit_radius": ("float", "0.5", (), True),
        "only_dynamics": ("bool", "false", (), True),
        "debug_linetrace": ("bool", "false", (), True),
    },
    "sensor.lidar.ray_cast": {
        **_COMMON_SENSOR,
        "channels": ("int", "32", (), True),
        "range": ("float", "10.0", (), True),
        "points_per_second": ("int", "56000", (), True),
        "rotation_frequency": ("float", "10.0", (), True),
        "upper_fov": ("float", "10.0", (), True),
        "lower_fov": ("float", "-30.0", (), True),
        "horizontal_fov": ("float", "360.0", (), True),
        "atmosphere_attenuation_rate": ("float", "0.004", (), True),
        "dropoff_general_rate": ("float", "0.45", (), True),
        "dropoff_intensity_limit": ("float", "0.8", (), True),
        "dropoff_zero_intensity": ("float", "0.4", (), True),
        "noise_stddev": _NOISE_STDDEV,
    },
    "sensor.speedometer": {**_COMMON_SENSOR, "reading_frequency": ("float", "20.0", (), True)},
    "sensor.opendrive_map": {**_COMMON_SENSOR, "reading_frequency": ("float", "1.0", (), True)},
}

# Trigger volumes: `static.trigger.friction` changes tyre friction inside its box (ScenarioRunner's
# ChangeRoadFriction spawns one). CARLA's default wheel friction is 3.5.
DEFAULT_TYRE_FRICTION = 3.5
TRIGGERS: dict[str, dict[str, tuple[str, str, tuple[str, ...], bool]]] = {
    "static.trigger.friction": {
        "friction": ("float", "3.5", (), True),
        "extent_x": ("float", "1.0", (), True),
        "extent_y": ("float", "1.0", (), True),
        "extent_z": ("float", "1.0", (), True),
        "role_name": ("string", "", (), True),
    },
}
