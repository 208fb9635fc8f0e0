# Mask R-CNN R50-FPN 3x: paper Table 2 row 2 (and Fig. 3(a)).
# The authors' 3x is the 1x recipe trained for 36 epochs with lr steps at 28 and 34,
# single scale 1333x800. mmdet 3.3.0 ships only a multi-scale 3x
# (common/ms-poly_3x_coco-instance.py), so only the schedule is changed here.
_base_ = ['./mask-rcnn_r50_fpn_1x_coco.py']

max_epochs = 36
train_cfg = dict(max_epochs=max_epochs)
param_scheduler = [
    _base_.param_scheduler[0],  # linear warm-up, 500 iterations
    dict(
        type='MultiStepLR',
        begin=0,
        end=max_epochs,
        by_epoch=True,
        milestones=[28, 34],
        gamma=0.1),
]
