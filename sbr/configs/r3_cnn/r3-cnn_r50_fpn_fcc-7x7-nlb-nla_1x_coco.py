# FCC head, 7x7 L2C with 7x7 non-local blocks before (NL_b) and after (NL_a, on 64
# channels) (paper Table 6 row 7; authors' exp_5-row_5).
_base_ = ['./r3-cnn_r50_fpn_fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_head=[dict(_base_.model.roi_head.bbox_head[0], nl_before=True, nl_after=True)]))
