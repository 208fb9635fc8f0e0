# FCC head, 7x7 L2C + a 7x7 non-local block before it (NL_b) (paper Table 6 row 5,
# Fig. 4(d); authors' exp_5-row_4).
_base_ = ['./r3-cnn_r50_fpn_fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_head=[dict(_base_.model.roi_head.bbox_head[0], nl_before=True)]))
