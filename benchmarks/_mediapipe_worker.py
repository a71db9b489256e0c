"""MediaPipe Pose (BlazePose full) on a list of images, run by peers_lsp.py in a side Python that has
`mediapipe` with its legacy `solutions.pose` (0.10.21 installs on these machines; it pins its own numpy
and protobuf, so it lives in its own virtualenv, not posekit's).

    python _mediapipe_worker.py LIST.txt OUT.json    # LIST: one image path per line

OUT: {"landmarks": [[[x, y, visibility] * 33] or null per image], "seconds": pure inference time}.
Coordinates are image pixels. static_image_mode: each photo on its own, no tracking between them.
"""
import json
import sys
import time

import cv2
import mediapipe as mp


def main() -> None:
    paths = [line.strip() for line in open(sys.argv[1]) if line.strip()]
    out, seconds = [], 0.0
    with mp.solutions.pose.Pose(static_image_mode=True, model_complexity=1) as pose:
        for path in paths:
            bgr = cv2.imread(path)
            rgb = cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)
            start = time.perf_counter()
            result = pose.process(rgb)
            seconds += time.perf_counter() - start
            if result.pose_landmarks is None:
                out.append(None)
                continue
            h, w = rgb.shape[:2]
            out.append([[lm.x * w, lm.y * h, lm.visibility] for lm in result.pose_landmarks.landmark])
    json.dump({"landmarks": out, "seconds": seconds}, open(sys.argv[2], "w"))


if __name__ == "__main__":
    main()
