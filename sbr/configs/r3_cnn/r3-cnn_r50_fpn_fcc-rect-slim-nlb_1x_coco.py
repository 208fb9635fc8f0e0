# FCC head, rectangular L2C + NL_b, as in the final SBR-CNN (paper Table 7 row 2;
# authors' exp_6-row_2_rect = exp_5-row_3-fcc2_8_fix): the light baseline of the Mask
# IoU ablation, 37,910,516 trainable parameters (37.9 M).
# "slim" = post_reduce=False: each 7x3 -> 3x7 pair reduces the channels in its first
# conv (256->128->128, 128->64->64) while paper Table 1 describes post_reduce=True
# (256->256->128, 128->128->64); only post_reduce=False gives the 37.9 M of the
# paper (True: 39.2 M). Table 6 row 6 is this model with with_mask_loop=False: see
# ./r3-cnn_r50_fpn_fcc-rect-slim-nlb_no-mask-loop_1x_coco.py.
_base_ = ['./r3-cnn_r50_fpn_fcc-7x7_1x_coco.py']

model = dict(
    roi_head=dict(
        bbox_head=[
            dict(
                _base_.model.roi_head.bbox_head[0],
                fcc_type='rect',
                post_reduce=False,
                nl_before=True)
        ]))
