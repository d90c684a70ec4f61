"""The Dynamic Adversary Agent (DAA) and the core of the Cousin Trajectory Generator (CTG).

Pure planning maths: `frenet` (lane centre lines as smooth references), `polynomials` (quintics), `trajectory`
(timed samples and bicycle-model feasibility), `parameters` (bounds, ranges, seeded draws), `manoeuvres` (cut-in,
merge, lane-change abort, oncoming intrusion, brake check, tailgating), `avoidability` (reference ego planner),
`cousins` (CTG variants, checks, route XML). CARLA/py_trees glue: `lanes`, `spec` (the `<adversary>` XML element),
`behaviours` (DAAManoeuvre, HandBackToLaneFollowing, RecordPoses), `scenarios` (DAACutIn, DAAMerge,
DAALaneChangeAbort, DAAOncomingIntrusion, DAABrakeCheck, DAATailgating, loaded by `recon-carla scenario` by
type=), `ego_drivers` (egos for measurements), `cousins_world` (CTG on a scene's log).

    python -m recon_carla_bridge.cli scenario --configFile scenarios/DAATown04.xml --scenario DAACutInRight_Town04
    PYTHONPATH=. python bench/daa_draws.py --draws 200      # rejected shares, naive vs reference collisions
    PYTHONPATH=. python bench/daa_world.py --draws 6        # in-world: constant speed vs BehaviorAgent vs reference
    python -m recon_carla_bridge.adversary.cousins_world kitti --out scenarios/routes/kitti_cousins.xml
"""
