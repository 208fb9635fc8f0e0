# Two FCC head pairs, 7x7 L2C, 'aabb', L_t = 4 (paper Table 6 row 9; authors'
# exp_5-row_7). Both FC heads of ./r3-cnn_r50_fpn_h2-aabb-l4_1x_coco.py become the
# FCC head of ./r3-cnn_r50_fpn_fcc-7x7_1x_coco.py, each keeping its own box coder
# (head a stds 0.1/0.2, head b 0.05/0.1). The other two-head FCC rows change the
# FCC knobs of both heads (model.roi_head.bbox_head.{0,1}.*).
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_1x_coco.py']

__fc_a, __fc_b = _base_.model.roi_head.bbox_head
__fcc = dict(
    type='SBRFCCBBoxHead',
    fcc_type='square',
    post_reduce=True,
    nl_before=False,
    nl_after=False,
    nl_kernel_size=7,
    in_channels=256,
    roi_feat_size=7,
    num_classes=80,
    reg_class_agnostic=True,
    loss_cls=__fc_a.loss_cls,
    loss_bbox=__fc_a.loss_bbox)
model = dict(
    roi_head=dict(bbox_head=[
        dict(__fcc, bbox_coder=__fc_a.bbox_coder),
        dict(__fcc, bbox_coder=__fc_b.bbox_coder),
    ]))
