//go:build !purego

#include "textflag.h"

// func scanAVX2(p *byte, blocks int, nl *uint64, words int) uint64
//
// Two loops: the first stores a line feed mask per block, the second (past
// the mapped words) only gathers the flags. Per 32 bytes, the flags take an
// OR (whose top bits flag bytes of 0x80 or more) and an unsigned minimum
// (zero if a byte was NUL).
TEXT ·scanAVX2(SB), NOSPLIT, $0-40
	MOVQ	p+0(FP), SI
	MOVQ	blocks+8(FP), CX
	MOVQ	nl+16(FP), DI
	MOVQ	words+24(FP), DX
	MOVQ	$0x0a, AX
	MOVQ	AX, X1
	VPBROADCASTB	X1, Y1 // '\n' in every byte
	VPXOR	Y2, Y2, Y2     // the OR of every byte
	VPCMPEQB	Y3, Y3, Y3 // the minimum of every byte, from 0xff
	SUBQ	DX, CX         // the blocks past the mapped words
	TESTQ	DX, DX
	JZ	tail

mapped:
	VMOVDQU	(SI), Y4
	VMOVDQU	32(SI), Y5
	VPCMPEQB	Y1, Y4, Y6
	VPCMPEQB	Y1, Y5, Y7
	VPMOVMSKB	Y6, AX
	VPMOVMSKB	Y7, BX
	SHLQ	$32, BX
	ORQ	BX, AX
	MOVQ	AX, (DI)
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y2, Y2
	VPMINUB	Y4, Y3, Y3
	VPMINUB	Y5, Y3, Y3
	ADDQ	$8, DI
	ADDQ	$64, SI
	DECQ	DX
	JNZ	mapped

tail:
	TESTQ	CX, CX
	JZ	done

unmapped:
	VMOVDQU	(SI), Y4
	VMOVDQU	32(SI), Y5
	VPOR	Y4, Y2, Y2
	VPOR	Y5, Y2, Y2
	VPMINUB	Y4, Y3, Y3
	VPMINUB	Y5, Y3, Y3
	ADDQ	$64, SI
	DECQ	CX
	JNZ	unmapped

done:
	VPMOVMSKB	Y2, AX // bytes of 0x80 or more
	VPXOR	Y4, Y4, Y4
	VPCMPEQB	Y4, Y3, Y3
	VPMOVMSKB	Y3, BX // NUL bytes
	VZEROUPPER
	XORQ	CX, CX
	TESTL	AX, AX
	SETNE	CL
	XORQ	DX, DX
	TESTL	BX, BX
	SETNE	DL
	LEAQ	(CX)(DX*2), AX
	MOVQ	AX, ret+32(FP)
	RET
