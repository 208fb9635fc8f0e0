# Paper Table 7 row 4 as the authors configured it (exp_6-row_4_rect), the Mask IoU
# variant chosen for SBR-CNN: the Mask IoU branch with its two FC layers replaced by
# 7x7 L2C convolutions (256->128->64) and fc_mask_iou reading 64*7*7 features.
# Trainable parameters: 42,531,332 (42.5 M); the paper prints 43.2 M = the same branch
# on the 7x7 + NL_b detection head
# (./r3-cnn_r50_fpn_fcc-7x7-nlb_maskiou-fcc-7x7_1x_coco.py).
_base_ = ['./r3-cnn_r50_fpn_fcc-rect-slim-nlb_maskiou_1x_coco.py']

model = dict(
    roi_head=dict(
        mask_iou_head=dict(
            _delete_=True,
            type='SBRFCCMaskIoUHead',
            fcc_type='square',
            post_reduce=True,
            nl_before=False,
            nl_after=False,
            nl_kernel_size=7,
            num_convs=4,
            roi_feat_size=14,
            in_channels=256,
            conv_out_channels=256,
            num_classes=80,
            loss_iou=dict(type='MSELoss', loss_weight=0.5))))
