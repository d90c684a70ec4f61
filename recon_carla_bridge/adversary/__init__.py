"""The Dynamic Adversary Agent (DAA) and the core of the Cousin Trajectory Generator (CTG).

Pure planning maths: `frenet` (lane centre lines as smooth references), `polynomials` (quintics), `trajectory`
(timed samples and bicycle-model feasibility), `parameters` (bounds, ranges, seeded draws), `manoeuvres` (cut-in,
merge, lane-change abort, oncoming intrusion, brake check, tailgating), `avoidability` (reference ego planner),
`cousins` (CTG variants, checks, route XML). CARLA/py_trees glue: `lanes`, `spec` (the `<adversary>` XML element),
`behaviours` (DAAManoeuvre, HandBackToLaneFollowing, RecordPoses), `scenarios` (DAACutIn, DAAMerge,
DAALaneChangeAbort, DAAOncomingIntrusion, DAABrakeCheck, DAATailgating, loaded by `recon-carla scenario` by
type=), `ego_drivers` (egos for measurements), `world_draws` (many seeded draws in a loaded town, one manoeuvre
window each), `scene_video` (a DAA scenario with the scene's front camera: MP4, stills), `cousins_world` (CTG on a
scene's log or a CARLA town's lane drive; `recon-carla cousins`), `cousin_paths` (turns through junctions, lane
following beyond the log), `ctg_report` (the distribution report), `ctg_scenario` (CTGCousin, FollowCousin).

    python -m recon_carla_bridge.cli scenario --configFile scenarios/DAATown04.xml --scenario DAACutInRight_Town04
    PYTHONPATH=. python bench/daa_draws.py --draws 200      # rejected shares, naive vs reference collisions
    python -m recon_carla_bridge.adversary.world_draws --draws 200 --json docs/figures/daa/world_draws.json
    python -m recon_carla_bridge.adversary.scene_video scenarios/DAAKitti0013.xml DAAKitti0013CutInRight_1 cut_in.mp4
    recon-carla cousins kitti --out scenarios/routes/kitti_cousins.xml --report docs/figures/daa
"""
