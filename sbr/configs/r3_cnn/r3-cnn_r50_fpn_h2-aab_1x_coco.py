# R3-CNN "deeper" (paper Table 2 row 5, Table 5 row 4; authors' exp_1-row_5):
# two head pairs (H=2) alternated 'aab' over L_t = 3 loops.
# Head b is head a with HTC's stage-2 box-coder stds (0.05, 0.05, 0.1, 0.1), as in
# the authors' config (the paper does not mention it).
_base_ = ['./r3-cnn_r50_fpn_1x_coco.py']

__head_a = _base_.model.roi_head.bbox_head[0]
__mask = _base_.model.roi_head.mask_head[0]
model = dict(
    roi_head=dict(
        stages='aab',
        bbox_head=[
            __head_a,
            dict(
                __head_a,
                bbox_coder=dict(
                    __head_a.bbox_coder, target_stds=[0.05, 0.05, 0.1, 0.1])),
        ],
        mask_head=[__mask, __mask]))
