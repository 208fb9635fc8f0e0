# FCC head with rectangular L2C, 7x3 -> 3x7 pairs (paper Table 6 row 4, Fig. 4(c);
# authors' exp_5-row_3-fcc2_2): post_reduce=True, the channel pattern of Table 1.
_base_ = ['./r3-cnn_r50_fpn_fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_head=[dict(_base_.model.roi_head.bbox_head[0], fcc_type='rect', post_reduce=True)]))
