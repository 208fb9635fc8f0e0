"""R³ RoI head: recursive refinement loops over H shared (bbox, mask) head pairs."""

from __future__ import annotations

from collections.abc import Sequence

import torch
from mmdet.models.roi_heads import HybridTaskCascadeRoIHead
from mmdet.models.task_modules.samplers import SamplingResult
from mmdet.models.utils import empty_instances, unpack_gt_instances
from mmdet.registry import MODELS
from mmdet.structures import SampleList
from mmdet.structures.bbox import bbox2roi, get_box_tensor
from mmdet.utils import ConfigType, InstanceList, OptConfigType
from mmengine.model import ModuleList
from mmengine.structures import InstanceData
from torch import Tensor

from ..alternation import resolve_stages
from .loop_cfg import expand_loop_train_cfg
from .merging import SCORE_MERGE_MODES, average_mask_probs, merge_loop_scores

FINAL_DECODERS = ("last_head", "last_loop")


def _as_list(cfg: dict | Sequence[dict], count: int, name: str) -> list[dict]:
    """Replicate a dict config ``count`` times, or check a list has ``count`` entries."""
    if isinstance(cfg, dict):
        return [cfg for _ in range(count)]
    cfgs = list(cfg)
    if len(cfgs) != count:
        raise ValueError(f"{name} has {len(cfgs)} entries but there are H={count} head pairs")
    return cfgs


def _check_options(
    num_stages: int, stage_loss_weights: Sequence[float], score_merge: str, final_decoder: str
) -> None:
    """Validate the scalar options of :class:`R3RoIHead` (errors name the argument)."""
    if len(stage_loss_weights) != num_stages:
        raise ValueError(
            f"stage_loss_weights has {len(stage_loss_weights)} entries "
            f"but num_stages is {num_stages}"
        )
    if score_merge not in SCORE_MERGE_MODES:
        raise ValueError(f"score_merge must be one of {SCORE_MERGE_MODES}, got {score_merge!r}")
    if final_decoder not in FINAL_DECODERS:
        raise ValueError(f"final_decoder must be one of {FINAL_DECODERS}, got {final_decoder!r}")


def _num_heads(bbox_head: dict | Sequence[dict]) -> int:
    if isinstance(bbox_head, dict):
        return 1
    if len(bbox_head) == 0:
        raise ValueError("bbox_head is an empty list; give one dict per head pair")
    return len(bbox_head)


@MODELS.register_module()
class R3RoIHead(HybridTaskCascadeRoIHead):
    """RoI head of R³-CNN / SBR-CNN (recursive loops over H head pairs).

    Loop ``t`` (``0 <= t < L_t`` in training, ``< L_e`` at test time) uses the head
    pair ``stages[t]`` (bbox RoI extractor, bbox head, mask RoI extractor, mask
    head) while the *loop* index ``t`` selects the rcnn training config
    (assigner IoU threshold ``u^t``), the sampler, the loss weight ``α_t`` and
    the loss prefix ``s{t}.``.

    Use it with mmdet's ``HybridTaskCascade`` (``with_semantic`` is False) or
    ``CascadeRCNN`` detector.

    Args:
        num_stages: ``L_t``, the number of training loops.
        stage_loss_weights: ``α``, one weight per training loop.
        bbox_roi_extractor: Dict (replicated H times) or list of H dicts.
        bbox_head: List of H bbox head dicts (a dict means H=1).
        mask_roi_extractor: Dict (replicated H times), list of H dicts, or None
            to share the bbox extractors.
        mask_head: List of H mask head dicts (a dict means H=1), or None.
        num_stages_test: ``L_e``, the number of test loops; defaults to ``L_t``.
        stages: Alternation string (``'aab'``) or list of head indices, at least
            ``max(L_t, L_e)`` long. None means ``[0] * max(L_t, L_e)`` (H=1 only).
        loop_iou_thrs: Optional ``u^t`` per training loop; overrides the
            assigner thresholds and lets a single-dict ``train_cfg`` be expanded.
        mask_iou_head: Optional Mask IoU head, trained on the last loop only
            (loss not α-scaled); at test time it writes
            ``pred_instances.mask_scores``.
        with_mask_loop: True: loop ``t`` runs ``t + 1`` mask iterations (paper
            Eq. 3). False: the chain length is the head index (R³-CNN code).
        interleaved: Refine boxes, then re-assign/re-sample them for the mask
            branch; the refined list feeds the next loop.
        mask_info_flow: Feed each mask iteration's features into the next.
        score_merge: ``'logits'`` (mean of logits, authors) or ``'probs'``.
        final_decoder: ``'last_head'`` decodes the final boxes (and pools the
            test mask features) with the last head of the list (authors);
            ``'last_loop'`` uses the head of the last test loop.
        **kwargs: ``train_cfg``, ``test_cfg``, ``init_cfg``; HTC's
            ``semantic_fusion`` is accepted and ignored.
    """

    def __init__(
        self,
        num_stages: int,
        stage_loss_weights: Sequence[float],
        bbox_roi_extractor: ConfigType,
        bbox_head: ConfigType | Sequence[ConfigType],
        mask_roi_extractor: OptConfigType = None,
        mask_head: ConfigType | Sequence[ConfigType] | None = None,
        num_stages_test: int | None = None,
        stages: str | Sequence[int] | None = None,
        loop_iou_thrs: Sequence[float] | None = None,
        mask_iou_head: OptConfigType = None,
        with_mask_loop: bool = True,
        interleaved: bool = True,
        mask_info_flow: bool = True,
        score_merge: str = "logits",
        final_decoder: str = "last_head",
        semantic_roi_extractor: OptConfigType = None,
        semantic_head: OptConfigType = None,
        train_cfg: OptConfigType = None,
        **kwargs,
    ) -> None:
        if semantic_head is not None or semantic_roi_extractor is not None:
            raise ValueError("semantic_head: R3RoIHead has no semantic branch")
        self.num_heads = _num_heads(bbox_head)
        if mask_head is not None and _num_heads(mask_head) != self.num_heads:
            raise ValueError(
                f"mask_head has {_num_heads(mask_head)} entries but bbox_head has "
                f"{self.num_heads}; give one mask head per bbox head"
            )
        self.num_stages_test = num_stages if num_stages_test is None else num_stages_test
        self.stages = resolve_stages(stages, self.num_heads, num_stages, self.num_stages_test)
        _check_options(num_stages, stage_loss_weights, score_merge, final_decoder)
        self.score_merge = score_merge
        self.final_decoder = final_decoder
        self.with_mask_loop = with_mask_loop
        self.loop_iou_thrs = None if loop_iou_thrs is None else list(loop_iou_thrs)
        super().__init__(
            num_stages=num_stages,
            stage_loss_weights=list(stage_loss_weights),
            bbox_roi_extractor=bbox_roi_extractor,
            bbox_head=bbox_head,
            mask_roi_extractor=mask_roi_extractor,
            mask_head=mask_head,
            interleaved=interleaved,
            mask_info_flow=mask_info_flow,
            train_cfg=expand_loop_train_cfg(train_cfg, num_stages, loop_iou_thrs),
            **kwargs,
        )
        self.mask_iou_head = None if mask_iou_head is None else MODELS.build(mask_iou_head)

    # ------------------------------------------------------------------ construction
    @property
    def with_mask_iou(self) -> bool:
        """bool: whether a Mask IoU head is attached."""
        return self.mask_iou_head is not None

    def init_bbox_head(self, bbox_roi_extractor: ConfigType, bbox_head: ConfigType) -> None:
        """Build H bbox RoI extractors and H bbox heads (not ``num_stages``)."""
        heads = _as_list(bbox_head, self.num_heads, "bbox_head")
        extractors = _as_list(bbox_roi_extractor, self.num_heads, "bbox_roi_extractor")
        self.bbox_roi_extractor = ModuleList([MODELS.build(cfg) for cfg in extractors])
        self.bbox_head = ModuleList([MODELS.build(cfg) for cfg in heads])

    def init_mask_head(self, mask_roi_extractor: OptConfigType, mask_head: ConfigType) -> None:
        """Build H mask heads (mmengine ModuleList, so ``init_weights`` reaches them)."""
        heads = _as_list(mask_head, self.num_heads, "mask_head")
        self.mask_head = ModuleList([MODELS.build(cfg) for cfg in heads])
        if mask_roi_extractor is None:
            self.share_roi_extractor = True
            self.mask_roi_extractor = self.bbox_roi_extractor
            return
        self.share_roi_extractor = False
        extractors = _as_list(mask_roi_extractor, self.num_heads, "mask_roi_extractor")
        self.mask_roi_extractor = ModuleList([MODELS.build(cfg) for cfg in extractors])

    def _final_head_index(self) -> int:
        """Head that decodes the final boxes and pools the test mask features."""
        if self.final_decoder == "last_head":
            return self.num_heads - 1
        return self.stages[self.num_stages_test - 1]

    # ------------------------------------------------------------------ training
    def _assign_and_sample(
        self,
        loop: int,
        record_key: str,
        proposals: Sequence[Tensor],
        batch_gt_instances: InstanceList,
        batch_gt_instances_ignore: InstanceList,
        x: tuple[Tensor, ...],
    ) -> list[SamplingResult]:
        """Assign and sample one proposal list with loop ``loop``'s assigner/sampler.

        Args:
            loop: Loop index ``t`` (selects the assigner threshold ``u^t``).
            record_key: Tag for recording assigners (``'pass0'``, ``'pass1'``).
            proposals: Per-image boxes ``(n_i, 4)``.
            batch_gt_instances: Per-image GT instances.
            batch_gt_instances_ignore: Per-image ignored GT instances.
            x: Multi-level features (used by OHEM-like samplers).

        Returns:
            One sampling result per image.
        """
        assigner = self.bbox_assigner[loop]
        sampler = self.bbox_sampler[loop]
        set_record_key = getattr(assigner, "set_record_key", None)
        if set_record_key is not None:
            set_record_key(record_key)
        sampling_results = []
        for i, boxes in enumerate(proposals):
            pred_instances = InstanceData(priors=boxes)
            assign_result = assigner.assign(
                pred_instances, batch_gt_instances[i], batch_gt_instances_ignore[i]
            )
            sampling_results.append(
                sampler.sample(
                    assign_result,
                    pred_instances,
                    batch_gt_instances[i],
                    feats=[lvl_feat[i][None] for lvl_feat in x],
                )
            )
        return sampling_results

    def _loop_bbox_loss(
        self,
        loop: int,
        head: int,
        x: tuple[Tensor, ...],
        sampling_results: list[SamplingResult],
    ) -> dict:
        """Bbox forward + loss of loop ``loop`` with head pair ``head``.

        Returns:
            dict with ``cls_score`` ``(n, C + 1)``, ``bbox_pred`` ``(n, 4)``,
            ``rois`` ``(n, 5)``, ``loss_bbox`` (dict) and ``bbox_targets``.
        """
        rois = bbox2roi([res.priors for res in sampling_results])
        bbox_results = self._bbox_forward(head, x, rois)
        bbox_results.update(rois=rois)
        bbox_results.update(
            self.bbox_head[head].loss_and_target(
                cls_score=bbox_results["cls_score"],
                bbox_pred=bbox_results["bbox_pred"],
                rois=rois,
                sampling_results=sampling_results,
                rcnn_train_cfg=self.train_cfg[loop],
            )
        )
        return bbox_results

    def _train_mask_chain(self, loop: int) -> list[int]:
        """Head indices of the mask iterations run at training loop ``loop``."""
        head = self.stages[loop]
        if not self.mask_info_flow:
            return [head]
        if self.with_mask_loop:
            return [self.stages[k] for k in range(loop + 1)]
        return [*range(head), head]

    def _run_mask_chain(
        self, mask_feats: Tensor, chain: Sequence[int], all_logits: bool
    ) -> list[Tensor]:
        """Run the mask iterations of ``chain`` (paper Eq. 3-4).

        Args:
            mask_feats: Mask RoI features ``(n, C, 14, 14)``.
            chain: Head index of every iteration.
            all_logits: Return the logits of every iteration (test time) rather
                than only the last one's.

        Returns:
            Mask logits ``(n, num_classes, 28, 28)``: one per iteration, or the last only.
        """
        logits = []
        last_feat = None
        for k, head in enumerate(chain):
            mask_head = self.mask_head[head]
            is_last = k == len(chain) - 1
            if not self.mask_info_flow:
                if all_logits or is_last:
                    logits.append(mask_head(mask_feats, return_feat=False))
            elif is_last:
                logits.append(mask_head(mask_feats, last_feat, return_feat=False))
            elif all_logits:
                mask_pred, last_feat = mask_head(mask_feats, last_feat)
                logits.append(mask_pred)
            else:
                last_feat = mask_head(mask_feats, last_feat, return_logits=False)
        return logits

    def _loop_mask_loss(
        self,
        loop: int,
        x: tuple[Tensor, ...],
        sampling_results: list[SamplingResult],
        batch_gt_instances: InstanceList,
    ) -> dict:
        """Mask forward + loss of loop ``loop`` on the positives of ``sampling_results``.

        Returns:
            dict with ``mask_preds`` ``(p, K, 28, 28)``, ``mask_feats``
            ``(p, C, 14, 14)``, ``mask_targets`` ``(p, 28, 28)`` and ``loss_mask``.
        """
        head = self.stages[loop]
        pos_rois = bbox2roi([res.pos_priors for res in sampling_results])
        extractor = self.mask_roi_extractor[head]
        mask_feats = extractor(x[: extractor.num_inputs], pos_rois)
        mask_preds = self._run_mask_chain(mask_feats, self._train_mask_chain(loop), False)[-1]
        results = dict(mask_preds=mask_preds, mask_feats=mask_feats)
        results.update(
            self.mask_head[head].loss_and_target(
                mask_preds=mask_preds,
                sampling_results=sampling_results,
                batch_gt_instances=batch_gt_instances,
                rcnn_train_cfg=self.train_cfg[loop],
            )
        )
        return results

    def _mask_iou_loss(
        self,
        loop: int,
        mask_results: dict,
        sampling_results: list[SamplingResult],
        batch_gt_instances: InstanceList,
    ) -> dict:
        """Mask IoU loss on the positives of the last loop (reference §6)."""
        mask_preds = mask_results["mask_preds"]
        pos_labels = torch.cat([res.pos_gt_labels for res in sampling_results])
        mask_labels = self._mask_channel(pos_labels, self.stages[loop])
        rows = torch.arange(mask_preds.size(0), device=mask_preds.device)
        pos_mask_pred = mask_preds[rows, mask_labels]
        mask_iou_pred = self.mask_iou_head(mask_results["mask_feats"], pos_mask_pred)
        pos_mask_iou_pred = mask_iou_pred[rows, pos_labels]
        return self.mask_iou_head.loss_and_target(
            pos_mask_iou_pred,
            pos_mask_pred,
            mask_results["mask_targets"],
            sampling_results,
            batch_gt_instances,
            self.train_cfg[loop],
        )

    def _mask_channel(self, labels: Tensor, head: int) -> Tensor:
        """Channel of the mask logits to read for ``labels`` (0 if class-agnostic)."""
        if self.mask_head[head].class_agnostic:
            return torch.zeros_like(labels)
        return labels

    def _refine_training_boxes(
        self,
        head: int,
        sampling_results: list[SamplingResult],
        bbox_results: dict,
        batch_img_metas: list[dict],
    ) -> list[Tensor]:
        """Regress the sampled RoIs with head ``head``, dropping GT proposals."""
        refined = self.bbox_head[head].refine_bboxes(
            sampling_results, bbox_results, batch_img_metas
        )
        if refined is None:  # no RoI in the whole batch
            device = bbox_results["rois"].device
            return [torch.zeros((0, 4), device=device) for _ in batch_img_metas]
        return [get_box_tensor(res.bboxes) for res in refined]

    def loss(
        self, x: tuple[Tensor, ...], rpn_results_list: InstanceList, batch_data_samples: SampleList
    ) -> dict:
        """Losses of the ``L_t`` training loops (reference §2.2).

        Args:
            x: Multi-level features, each ``(B, C, H_l, W_l)``.
            rpn_results_list: Per-image RPN proposals (``bboxes``).
            batch_data_samples: Data samples with ``gt_instances``.

        Returns:
            ``s{t}.loss_cls``, ``s{t}.loss_bbox``, ``s{t}.acc``, ``s{t}.loss_mask``
            for every loop ``t`` (losses × ``α_t``), plus ``loss_mask_iou``
            (not scaled) when a Mask IoU head is set.
        """
        if len(rpn_results_list) != len(batch_data_samples):
            raise ValueError("rpn_results_list and batch_data_samples differ in length")
        batch_gt, batch_gt_ignore, batch_img_metas = unpack_gt_instances(batch_data_samples)
        proposals = [get_box_tensor(res.bboxes) for res in rpn_results_list]
        losses = {}
        for loop in range(self.num_stages):
            # samplers that run the head themselves (OHEM) read the head index here
            self.current_stage = self.stages[loop]
            proposals = self._loss_one_loop(
                loop, x, proposals, batch_gt, batch_gt_ignore, batch_img_metas, losses
            )
        return losses

    def _loss_one_loop(
        self,
        loop: int,
        x: tuple[Tensor, ...],
        proposals: list[Tensor],
        batch_gt: InstanceList,
        batch_gt_ignore: InstanceList,
        batch_img_metas: list[dict],
        losses: dict,
    ) -> list[Tensor]:
        """Run loop ``loop``, add its losses to ``losses``, return the next proposals."""
        head = self.stages[loop]
        weight = self.stage_loss_weights[loop]
        sampling_results = self._assign_and_sample(
            loop, "pass0", proposals, batch_gt, batch_gt_ignore, x
        )
        bbox_results = self._loop_bbox_loss(loop, head, x, sampling_results)
        _add_losses(losses, bbox_results["loss_bbox"], f"s{loop}.", weight)
        with torch.no_grad():
            proposals = self._refine_training_boxes(
                head, sampling_results, bbox_results, batch_img_metas
            )
        if not self.with_mask:
            return proposals
        if self.interleaved:
            sampling_results = self._assign_and_sample(
                loop, "pass1", proposals, batch_gt, batch_gt_ignore, x
            )
        mask_results = self._loop_mask_loss(loop, x, sampling_results, batch_gt)
        _add_losses(losses, mask_results["loss_mask"], f"s{loop}.", weight)
        if self.with_mask_iou and loop == self.num_stages - 1:
            losses.update(self._mask_iou_loss(loop, mask_results, sampling_results, batch_gt))
        return proposals

    # ------------------------------------------------------------------ inference
    def _refine_roi(
        self,
        x: tuple[Tensor, ...],
        rois: Tensor,
        batch_img_metas: list[dict],
        num_proposals_per_img: Sequence[int],
        **kwargs,
    ) -> tuple[tuple[Tensor, ...], tuple[Tensor, ...], tuple[Tensor, ...]]:
        """Run the ``L_e`` test loops and merge their scores (reference §2.5).

        Args:
            x: Multi-level features.
            rois: ``(n, 5)`` RoIs ``[batch_ind, x1, y1, x2, y2]`` of all images.
            batch_img_metas: Per-image meta information.
            num_proposals_per_img: RoIs per image.
            **kwargs: Ignored (HTC passes ``semantic_feat``).

        Returns:
            Per-image RoIs of the last loop, merged scores ``(n_i, C + 1)`` and
            the last loop's box deltas.
        """
        loop_scores = []
        for loop in range(self.num_stages_test):
            head = self.stages[loop]
            bbox_results = self._bbox_forward(head, x, rois)
            cls_score, bbox_pred = bbox_results["cls_score"], bbox_results["bbox_pred"]
            loop_scores.append(cls_score)
            if loop < self.num_stages_test - 1:
                rois = self._regress_rois(
                    head, rois, cls_score, bbox_pred, batch_img_metas, num_proposals_per_img
                )
        merged = merge_loop_scores(loop_scores, self.score_merge)
        return (
            rois.split(num_proposals_per_img, 0),
            merged.split(num_proposals_per_img, 0),
            bbox_pred.split(num_proposals_per_img, 0),
        )

    def _regress_rois(
        self,
        head: int,
        rois: Tensor,
        cls_score: Tensor,
        bbox_pred: Tensor,
        batch_img_metas: list[dict],
        num_proposals_per_img: Sequence[int],
    ) -> Tensor:
        """Apply head ``head``'s deltas to ``rois`` ``(n, 5)`` (argmax foreground class)."""
        bbox_head = self.bbox_head[head]
        labels = cls_score[:, :-1].argmax(dim=1)
        refined = []
        per_image = zip(
            rois.split(num_proposals_per_img, 0),
            labels.split(num_proposals_per_img, 0),
            bbox_pred.split(num_proposals_per_img, 0),
            batch_img_metas,
            strict=True,
        )
        for img_rois, img_labels, img_deltas, img_meta in per_image:
            if img_rois.shape[0] == 0:
                refined.append(img_rois)
                continue
            boxes = bbox_head.regress_by_class(img_rois[:, 1:], img_labels, img_deltas, img_meta)
            refined.append(torch.cat([img_rois[:, [0]], get_box_tensor(boxes)], dim=1))
        return torch.cat(refined)

    def predict_bbox(
        self,
        x: tuple[Tensor, ...],
        batch_img_metas: list[dict],
        rpn_results_list: InstanceList,
        rcnn_test_cfg: ConfigType,
        rescale: bool = False,
        **kwargs,
    ) -> InstanceList:
        """Boxes after ``L_e`` loops, merged scores, decoded by the final head."""
        decoder = self.bbox_head[self._final_head_index()]
        proposals = [get_box_tensor(res.bboxes) for res in rpn_results_list]
        num_proposals_per_img = tuple(len(p) for p in proposals)
        rois = bbox2roi(proposals)
        if rois.shape[0] == 0:
            return empty_instances(
                batch_img_metas,
                rois.device,
                task_type="bbox",
                box_type=decoder.predict_box_type,
                num_classes=decoder.num_classes,
                score_per_cls=rcnn_test_cfg is None,
            )
        rois, cls_scores, bbox_preds = self._refine_roi(
            x, rois, batch_img_metas, num_proposals_per_img
        )
        return decoder.predict_by_feat(
            rois=rois,
            cls_scores=cls_scores,
            bbox_preds=bbox_preds,
            batch_img_metas=batch_img_metas,
            rescale=rescale,
            rcnn_test_cfg=rcnn_test_cfg,
        )

    def _test_mask_logits(self, x: tuple[Tensor, ...], mask_rois: Tensor) -> tuple[list, Tensor]:
        """Pool once, run the ``L_e``-iteration mask chain; return logits and features."""
        extractor = self.mask_roi_extractor[self._final_head_index()]
        mask_feats = extractor(x[: extractor.num_inputs], mask_rois)
        chain = self.stages[: self.num_stages_test]
        return self._run_mask_chain(mask_feats, chain, all_logits=True), mask_feats

    def predict_mask(
        self,
        x: tuple[Tensor, ...],
        batch_img_metas: list[dict],
        results_list: InstanceList,
        rescale: bool = False,
        **kwargs,
    ) -> InstanceList:
        """Masks = mean of the sigmoids of all ``L_e`` mask iterations (reference §2.5).

        Adds ``masks`` ``(n, H, W)`` and, with a Mask IoU head, ``mask_scores``
        ``(n,)`` = predicted IoU × box score; ``scores`` is left untouched.
        """
        mask_rois = bbox2roi([res.bboxes for res in results_list])
        if mask_rois.shape[0] == 0:
            results_list = empty_instances(
                batch_img_metas,
                mask_rois.device,
                task_type="mask",
                instance_results=results_list,
                mask_thr_binary=self.test_cfg.mask_thr_binary,
            )
            if self.with_mask_iou:
                for res in results_list:
                    res.mask_scores = res.scores.new_zeros((0,))
            return results_list
        num_per_img = [len(res) for res in results_list]
        all_logits, mask_feats = self._test_mask_logits(x, mask_rois)
        merged = average_mask_probs(all_logits).split(num_per_img, 0)
        paste_head = self.mask_head[self._final_head_index()]
        results_list = paste_head.predict_by_feat(
            mask_preds=merged,
            results_list=results_list,
            batch_img_metas=batch_img_metas,
            rcnn_test_cfg=self.test_cfg,
            rescale=rescale,
            activate_map=True,
        )
        if self.with_mask_iou:
            self._add_mask_scores(results_list, all_logits[-1], mask_feats, num_per_img)
        return results_list

    def _add_mask_scores(
        self,
        results_list: InstanceList,
        last_logits: Tensor,
        mask_feats: Tensor,
        num_per_img: Sequence[int],
    ) -> None:
        """Write ``mask_scores`` = IoU predicted from the last iteration × box score."""
        labels = torch.cat([res.labels for res in results_list])
        rows = torch.arange(labels.numel(), device=labels.device)
        channels = self._mask_channel(labels, self.stages[self.num_stages_test - 1])
        mask_iou = self.mask_iou_head(mask_feats, last_logits[rows, channels])[rows, labels]
        for res, iou in zip(results_list, mask_iou.split(list(num_per_img)), strict=True):
            res.mask_scores = res.scores * iou

    def forward(
        self, x: tuple[Tensor, ...], rpn_results_list: InstanceList, batch_data_samples: SampleList
    ) -> tuple:
        """Tensor-only forward (for FLOP counting): merged scores, deltas, merged masks."""
        batch_img_metas = [sample.metainfo for sample in batch_data_samples]
        proposals = [get_box_tensor(res.bboxes) for res in rpn_results_list]
        num_proposals_per_img = tuple(len(p) for p in proposals)
        rois, cls_scores, bbox_preds = self._refine_roi(
            x, bbox2roi(proposals), batch_img_metas, num_proposals_per_img
        )
        results = (cls_scores, bbox_preds)
        if self.with_mask:
            all_logits, _ = self._test_mask_logits(x, torch.cat(rois))
            results = results + (average_mask_probs(all_logits).split(num_proposals_per_img, 0),)
        return results


def _add_losses(losses: dict, new: dict, prefix: str, weight: float) -> None:
    """Copy ``new`` into ``losses`` under ``prefix``, scaling entries named ``loss*``."""
    for name, value in new.items():
        losses[f"{prefix}{name}"] = value * weight if "loss" in name else value
