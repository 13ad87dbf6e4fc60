# Blender Cycles at a frame of a glTF animation, with motion blur: runs the
# shared peer script ../shared/peers/blender/render.py (import, camera,
# world, Cycles settings, timings) with three more options, applied after
# the import and just before the render:
#
#   blender -b --factory-startup -noaudio -t 2 --python bench/cycles_anim.py -- \
#       --peer ../shared/peers/blender/render.py --frame 25 --shutter 0.5 [--fps 24] \
#       [--motion-steps 3] <render.py's own options: --scene ... --out ... --cam-pos ...>
#
# --frame F     the scene's frame: Blender's glTF importer keys an animation at
#               frame = t * fps (t = 1.25 s is frame 30 at 24 fps), as xisuan does
# --shutter S   motion blur over S of a frame interval, centred on the frame
#               (Cycles' default position); 0: none
# --fps X       the scene's frame rate, set before the import (the importer
#               turns keyframe times into frames with it)
# --motion-steps N  Cycles' per-object motion steps (object and deformation)
# --film transparent|opaque  transparent (the default): the EXR's alpha is
#               the silhouette (the world still lights the scene); opaque: the
#               world shows where nothing was hit, as in xisuan's frames
# The shared script is not edited: its text is run here with one call
# inserted before its render.
import os
import sys

import bpy
from bpy.app.handlers import persistent

argv = sys.argv[sys.argv.index("--") + 1:] if "--" in sys.argv else []
mine = {"--peer": None, "--frame": "1", "--shutter": "0", "--fps": "24", "--motion-steps": "3",
        "--film": "transparent"}
rest = []
i = 0
while i < len(argv):
    if argv[i] in mine and i + 1 < len(argv):
        mine[argv[i]] = argv[i + 1]
        i += 2
    else:
        rest.append(argv[i])
        i += 1
peer = mine["--peer"] or os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "..", "shared",
                                      "peers", "blender", "render.py")
frame, shutter = int(mine["--frame"]), float(mine["--shutter"])
fps, steps = float(mine["--fps"]), int(mine["--motion-steps"])
transparent = mine["--film"] != "opaque"


def set_fps(scene):
    scene.render.fps = int(round(fps))
    scene.render.fps_base = scene.render.fps / fps


@persistent
def xs_fps_on_load(*_):
    """render.py starts from factory settings: the frame rate is set as
    they load, before the glTF import turns keyframe times into frames."""
    for sc in bpy.data.scenes:
        set_fps(sc)


bpy.app.handlers.load_post.append(xs_fps_on_load)


def xs_pose(scene):
    """The frame, the shutter and the film, after the import."""
    set_fps(scene)
    scene.frame_set(frame)
    scene.render.use_motion_blur = shutter > 0.0
    scene.render.motion_blur_shutter = max(shutter, 1e-4)
    scene.cycles.motion_blur_position = "CENTER"
    scene.render.film_transparent = transparent
    for o in scene.objects:
        if hasattr(o, "cycles"):
            o.cycles.use_motion_blur = True
            o.cycles.use_deform_motion = True
            o.cycles.motion_steps = steps
    print("[info] frame %d at %.3f fps, shutter %.3f, motion steps %d" % (frame, fps, shutter, steps), flush=True)


src = open(peer).read()
anchor = "bpy.ops.render.render(write_still=True)"
if src.count(anchor) != 1:
    sys.exit("cycles_anim.py: %s changed: no single '%s' to pose before" % (peer, anchor))
src = src.replace(anchor, "xs_pose(scene)\n" + anchor)
sys.argv = [sys.argv[0], "--"] + rest
exec(compile(src, peer, "exec"), {"__name__": "__main__", "xs_pose": xs_pose, "__file__": peer})
