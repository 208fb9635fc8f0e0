# R3-CNN, H=2, 'aabb', L_t = 4 (paper Table 6 row 8 / authors' exp_5-row_6): the base
# of the two-head rows 8-12 of Tables 6 and 7. u^t = 0.5/0.6/0.7/0.8 and
# alpha = [1, 0.75, 0.5, 0.3] as in those configs. Table 5 row 6 is the same model
# with alpha_4 = 0.4: model.roi_head.stage_loss_weights=[1, 0.75, 0.5, 0.4].
_base_ = ['./r3-cnn_r50_fpn_h2-aab_1x_coco.py']

model = dict(
    roi_head=dict(
        num_stages=4,
        stages='aabb',
        stage_loss_weights=[1, 0.75, 0.5, 0.3],
        loop_iou_thrs=[0.5, 0.6, 0.7, 0.8]))
