# Paper Table 7 row 9 (authors' exp_6-row_8): the two-head Table 6 row 11 model plus
# the original Mask IoU branch (last loop only, MSE x 0.5).
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7-nlb_1x_coco.py']

model = dict(
    roi_head=dict(
        mask_iou_head=dict(
            type='MaskIoUHead',
            num_convs=4,
            num_fcs=2,
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            fc_out_channels=1024,
            num_classes=80,
            loss_iou=dict(type='MSELoss', loss_weight=0.5))),
    # IoU targets binarise the predicted 28x28 mask at 0.5 (every loop's template).
    train_cfg=dict(rcnn=dict(mask_thr_binary=0.5)))
