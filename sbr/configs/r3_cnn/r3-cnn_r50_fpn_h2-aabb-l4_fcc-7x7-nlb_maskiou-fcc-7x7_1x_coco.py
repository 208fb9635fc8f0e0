# Paper Table 7 row 10 (authors' exp_6-row_9): FCC Mask IoU branch, 7x7 L2C, on the
# two-head Table 6 row 11 model.
_base_ = ['./r3-cnn_r50_fpn_h2-aabb-l4_fcc-7x7-nlb_maskiou_1x_coco.py']

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
