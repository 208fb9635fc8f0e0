# Paper Table 7 row 3 as the authors configured it (exp_6-row_3_rect): the Table 7
# row 2 model plus the original Mask IoU branch of Mask Scoring R-CNN (4 convs, 2 FC
# layers), trained on the last loop only, loss MSE x 0.5 (not alpha-weighted).
# Trainable parameters: 54,250,820 (54.2 M), while the paper prints 54.9 M = the same
# branch on the 7x7 + NL_b detection head: see
# ./r3-cnn_r50_fpn_fcc-7x7-nlb_maskiou_1x_coco.py and ../README.md.
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_1x_coco.py']

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
